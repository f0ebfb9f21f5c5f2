# cmake -DLIB=libwpool.so -DNM=nm -DHEADER=wpool.h [-DAPPLE=1] -P this-file
#
# Checks the shared library's exported (defined, dynamic) symbols both ways:
# - nothing but wpool_ functions and wpool__register_static leaves it (the
#   internal wpool__ functions and everything else stay hidden);
# - every function wpool.h (or a header beside it) declares WPOOL_EXTERN is
#   exported, so a program
#   linked against the shared library finds the whole API.
cmake_minimum_required(VERSION 3.16)

foreach(v LIB NM HEADER)
  if(NOT ${v})
    message(FATAL_ERROR "symbols: ${v} not set")
  endif()
endforeach()

if(APPLE)
  # Mach-O: -g external, -U defined only; names carry a leading underscore.
  execute_process(COMMAND ${NM} -gU ${LIB}
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
else()
  execute_process(COMMAND ${NM} -D --defined-only ${LIB}
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "symbols: ${NM} failed on ${LIB}")
endif()

string(REPLACE "\n" ";" lines "${out}")
set(exported)
set(bad)
foreach(line IN LISTS lines)
  # "<address> <type> <name>"; the name may carry a @VERSION suffix.
  if(NOT line MATCHES "^[0-9a-fA-F]* *([A-Za-z]) ([^ @]+)")
    continue()
  endif()
  set(type ${CMAKE_MATCH_1})
  set(name ${CMAKE_MATCH_2})
  if(APPLE)
    string(REGEX REPLACE "^_" "" name "${name}")
  endif()
  # Absolute symbols the linker may define on its own ("A": _edata, _end,
  # __bss_start with older binutils); they are not code of ours.
  if(type STREQUAL "A")
    continue()
  endif()
  list(APPEND exported ${name})
  if(name MATCHES "^wpool_[a-z]" OR name STREQUAL "wpool__register_static")
    continue()
  endif()
  list(APPEND bad ${name})
endforeach()

# The API is wpool.h and the headers beside it (wpool_transport.h).
get_filename_component(hdir ${HEADER} DIRECTORY)
file(GLOB headers ${hdir}/wpool*.h)
set(header "")
foreach(h IN LISTS headers)
  file(READ ${h} text)
  string(APPEND header "${text}")
endforeach()
string(REGEX MATCHALL "WPOOL_EXTERN[^;(]*[ *](wpool_[A-Za-z0-9_]*)[ ]*\\("
       decls "${header}")
set(declared)
foreach(d IN LISTS decls)
  string(REGEX MATCH "(wpool_[A-Za-z0-9_]*)[ ]*\\($" _ "${d}")
  list(APPEND declared ${CMAKE_MATCH_1})
endforeach()
list(LENGTH declared ndeclared)
if(ndeclared LESS 10)
  message(FATAL_ERROR "symbols: found only ${ndeclared} WPOOL_EXTERN "
                      "declarations in ${HEADER}")
endif()
set(missing)
foreach(name IN LISTS declared)
  if(NOT name IN_LIST exported)
    list(APPEND missing ${name})
  endif()
endforeach()

list(SORT exported)
string(REPLACE ";" "\n  " shown "${exported}")
message(STATUS "exported from ${LIB}:\n  ${shown}")
if(bad)
  string(REPLACE ";" " " bad "${bad}")
  message(FATAL_ERROR "symbols: exported but not wpool_: ${bad}")
endif()
if(missing)
  string(REPLACE ";" " " missing "${missing}")
  message(FATAL_ERROR "symbols: declared WPOOL_EXTERN but not exported: "
                      "${missing}")
endif()
list(LENGTH exported n)
message(STATUS "symbols: ${n} exported, ${ndeclared} declared, all wpool_")
