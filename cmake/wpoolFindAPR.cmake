# wpool_find_apr(): find APR (apr-1) the same way for wpool's own build and
# for the consumers of an installed static wpool (wpoolConfig.cmake includes
# this file), and wrap it in the imported target wpool::apr.
#
# APR's own CMake build is Windows-only, so:
# - elsewhere, APR comes from pkg-config (apr-1, Debian's libapr1-dev);
# - on Windows, from a CMake package config: vcpkg's apr port, or an APR
#   installed by its own CMake build. Shared APR is the target
#   apr::libapr-1, static APR is apr::apr-1 (older vcpkg ports spelled them
#   unofficial::apr::...). A static APR needs APR_DECLARE_STATIC wherever its
#   headers are compiled, or its declarations say dllimport.
#
# wpool links wpool::apr privately, so the exported wpool::wpool of a static
# build names it in its link interface; a shared wpool hides it.
#
# Sets wpool_APR_FOUND. Arguments: QUIET and/or REQUIRED, passed on.
macro(wpool_find_apr)
  set(_wpool_apr_args ${ARGN})
  set(wpool_APR_FOUND FALSE)
  if(TARGET wpool::apr)
    set(wpool_APR_FOUND TRUE)
  elseif(WIN32)
    find_package(apr CONFIG QUIET)
    if(NOT apr_FOUND)
      find_package(unofficial-apr CONFIG QUIET)
    endif()
    set(_wpool_apr_target)
    set(_wpool_apr_static FALSE)
    foreach(_t apr::libapr-1 unofficial::apr::libapr-1)
      if(NOT _wpool_apr_target AND TARGET ${_t})
        set(_wpool_apr_target ${_t})
      endif()
    endforeach()
    foreach(_t apr::apr-1 unofficial::apr::apr-1)
      if(NOT _wpool_apr_target AND TARGET ${_t})
        set(_wpool_apr_target ${_t})
        set(_wpool_apr_static TRUE)
      endif()
    endforeach()
    if(_wpool_apr_target)
      add_library(wpool::apr INTERFACE IMPORTED)
      target_link_libraries(wpool::apr INTERFACE ${_wpool_apr_target})
      if(_wpool_apr_static)
        target_compile_definitions(wpool::apr INTERFACE APR_DECLARE_STATIC)
      endif()
      set(wpool_APR_FOUND TRUE)
    endif()
    list(FIND _wpool_apr_args REQUIRED _wpool_apr_required)
    if(NOT wpool_APR_FOUND AND _wpool_apr_required GREATER -1)
      message(FATAL_ERROR
        "wpool: APR not found. On Windows install it with vcpkg "
        "(vcpkg install apr) and pass its toolchain file, or point "
        "CMAKE_PREFIX_PATH at an APR installed by APR's own CMake build.")
    endif()
  else()
    find_package(PkgConfig ${_wpool_apr_args})
    if(PKG_CONFIG_FOUND)
      # A prefix of our own, so that a project's own pkg_check_modules(APR)
      # is not disturbed.
      pkg_check_modules(WPOOL_APR ${_wpool_apr_args} IMPORTED_TARGET apr-1)
    endif()
    if(TARGET PkgConfig::WPOOL_APR)
      add_library(wpool::apr INTERFACE IMPORTED)
      target_link_libraries(wpool::apr INTERFACE PkgConfig::WPOOL_APR)
      set(wpool_APR_FOUND TRUE)
    endif()
  endif()
endmacro()
