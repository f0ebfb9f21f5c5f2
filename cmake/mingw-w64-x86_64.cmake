# Toolchain file: build wpool for 64-bit Windows on Linux with Debian's
# mingw-w64 (gcc, win32 thread model), and run what it builds under wine.
#
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
#         -DWPOOL_WIN_DEPS=<prefix holding APR and CUnit built for Windows>
#
# tools/win-cross.sh does all of it: the dependencies, this build and ctest.
# With CMAKE_CROSSCOMPILING_EMULATOR set, add_test() commands (and custom
# commands naming a target) run through wine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(WPOOL_MINGW_TRIPLET x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${WPOOL_MINGW_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${WPOOL_MINGW_TRIPLET}-g++)
set(CMAKE_RC_COMPILER ${WPOOL_MINGW_TRIPLET}-windres)

# The prefix with the Windows builds of wpool's dependencies: a cache
# variable, or the environment (so that try_compile projects see it too).
if(NOT WPOOL_WIN_DEPS AND DEFINED ENV{WPOOL_WIN_DEPS})
  set(WPOOL_WIN_DEPS "$ENV{WPOOL_WIN_DEPS}")
endif()

# Libraries, headers and packages come from the target's trees only, never
# from the Linux host's (which has its own APR and CUnit); programs (wine,
# pkg-config, doxygen) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${WPOOL_MINGW_TRIPLET} ${WPOOL_WIN_DEPS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(WPOOL_WINE NAMES wine wine64)
if(WPOOL_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WPOOL_WINE})
endif()
