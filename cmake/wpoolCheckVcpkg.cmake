# The vcpkg_manifests test (cmake -DSRC=<source tree> -DVERSION=<version>
# -P this file): the vcpkg files agree with each other and with the
# project, since vcpkg itself only reads them on AppVeyor.
# - vcpkg.json (wpool's own dependencies) and tests/consumer/vcpkg.json
#   (the port's consumer) pin the same builtin-baseline, a full commit id;
# - both name wpool's version, and so does the overlay port's vcpkg.json;
# - the port depends on apr and on vcpkg's CMake helpers, whose functions
#   its portfile calls.
cmake_minimum_required(VERSION 3.19)

function(read_json var file)
  if(NOT EXISTS "${SRC}/${file}")
    message(FATAL_ERROR "${file}: missing")
  endif()
  file(READ "${SRC}/${file}" text)
  string(JSON type ERROR_VARIABLE err TYPE "${text}")
  if(err OR NOT type STREQUAL "OBJECT")
    message(FATAL_ERROR "${file}: not a JSON object: ${err}")
  endif()
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

# get(<var> <json> <file> <key>...): the member, or a failure naming it.
function(get var json file)
  string(JSON value ERROR_VARIABLE err GET "${json}" ${ARGN})
  if(err)
    message(FATAL_ERROR "${file}: no ${ARGN}")
  endif()
  set(${var} "${value}" PARENT_SCOPE)
endfunction()

read_json(top vcpkg.json)
read_json(consumer tests/consumer/vcpkg.json)
read_json(port ports/wpool/vcpkg.json)

get(baseline "${top}" vcpkg.json builtin-baseline)
get(consumer_baseline "${consumer}" tests/consumer/vcpkg.json builtin-baseline)
if(NOT baseline MATCHES "^[0-9a-f]+$")
  message(FATAL_ERROR "vcpkg.json: builtin-baseline ${baseline} is not a commit id")
endif()
string(LENGTH "${baseline}" len)
if(NOT len EQUAL 40)
  message(FATAL_ERROR "vcpkg.json: builtin-baseline ${baseline} is not a full commit id")
endif()
if(NOT consumer_baseline STREQUAL baseline)
  message(FATAL_ERROR "tests/consumer/vcpkg.json pins ${consumer_baseline}, "
                      "vcpkg.json ${baseline}")
endif()

function(check_version json file)
  get(v "${json}" "${file}" version)
  if(NOT v STREQUAL VERSION)
    message(FATAL_ERROR "${file}: version ${v}, the project's is ${VERSION}")
  endif()
endfunction()
check_version("${top}" vcpkg.json)
check_version("${port}" ports/wpool/vcpkg.json)

get(deps "${port}" ports/wpool/vcpkg.json dependencies)
foreach(needed apr vcpkg-cmake vcpkg-cmake-config)
  string(FIND "${deps}" "\"${needed}\"" at)
  if(at LESS 0)
    message(FATAL_ERROR "ports/wpool/vcpkg.json: no dependency on ${needed}")
  endif()
endforeach()

file(READ "${SRC}/ports/wpool/portfile.cmake" portfile)
foreach(call vcpkg_cmake_configure vcpkg_cmake_install vcpkg_cmake_config_fixup
             vcpkg_fixup_pkgconfig vcpkg_install_copyright)
  if(NOT portfile MATCHES "\n${call}\\(")
    message(FATAL_ERROR "ports/wpool/portfile.cmake: no ${call}()")
  endif()
endforeach()
message(STATUS "vcpkg files agree: baseline ${baseline}, wpool ${VERSION}")
