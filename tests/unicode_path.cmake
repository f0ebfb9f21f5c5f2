# ctest's unicode_path test (Windows): copy the test program, and the DLLs
# beside it, into a directory whose name no ANSI code page can spell, and
# run a spawn suite from there. Spawned workers must start from that path.
#
#   cmake -DEXE=<wpool_tests.exe> -DLIB=<the wpool library> -DDIR=<dir>
#         -DEMULATOR=<wine, or empty> -P unicode_path.cmake
cmake_minimum_required(VERSION 3.16)

set(target "${DIR}/unicode-üß-日本-ж")
file(REMOVE_RECURSE "${target}")
file(MAKE_DIRECTORY "${target}")
get_filename_component(exe_dir "${EXE}" DIRECTORY)
get_filename_component(exe_name "${EXE}" NAME)
file(GLOB dlls "${exe_dir}/*.dll")
if(LIB MATCHES "\\.dll$")
  list(APPEND dlls "${LIB}")
endif()
file(COPY "${EXE}" ${dlls} DESTINATION "${target}")

execute_process(COMMAND ${EMULATOR} "${target}/${exe_name}" --suite apply
                        --method spawn
                RESULT_VARIABLE rc)
file(REMOVE_RECURSE "${target}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the apply suite from ${target} failed: ${rc}")
endif()
