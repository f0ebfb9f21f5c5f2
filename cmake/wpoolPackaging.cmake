# Debian packages of wpool, made by CPack from the install components
# (tools/ci-deb.sh builds, installs and removes them in a fresh root):
#
#   cmake -S . -B build-deb -DBUILD_SHARED_LIBS=ON -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-deb -j && cpack --config build-deb/CPackConfig.cmake
#
# Names and contents follow Debian's library packaging:
# - libwpool<SOVERSION> (libwpool0): the runtime component, that is the
#   shared library and its SONAME link. Its Depends come from
#   dpkg-shlibdeps (libapr1, libc6), and it ships a shlibs file and the
#   ldconfig trigger. A SOVERSION bump renames it, so that programs built
#   against the old ABI keep their library installed beside the new one.
# - libwpool-dev: the dev component, that is the headers, the libwpool.so
#   link, the CMake package, wpool.pc and the man pages. It depends on its
#   own version of the runtime package and on libapr1-dev, because wpool.pc
#   names apr-1 (Requires.private), which pkg-config resolves even for a
#   shared link.
# A static build (BUILD_SHARED_LIBS=OFF) makes libwpool-dev alone, with
# libwpool.a in it.
#
# A new optional component adds its name to CPACK_COMPONENTS_ALL and its
# package name, section and Depends below, in the same pattern.
if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  return()
endif()

set(WPOOL_DEB_MAINTAINER "wpool maintainers <maintainers@users.noreply.b-seed-92c17272.example>"
    CACHE STRING "Maintainer field of the Debian packages")
set(WPOOL_DEB_RELEASE 1 CACHE STRING
    "Debian revision of the packages (the part after the version's dash)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME wpool)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${WPOOL_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "worker pool for C after Python's multiprocessing.Pool")
set(CPACK_PACKAGE_DESCRIPTION
    "wpool hands a function and its data to worker processes (fork or spawn)
or threads and gets the results back blocking, asynchronously or as an
iterator. A task that crashes, leaks or hangs costs one worker, never the
caller.")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_DEB_COMPONENT_INSTALL ON)
# Packaged binaries carry no symbol table (the dynamic symbols stay).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${WPOOL_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(_wpool_deb_version "${PROJECT_VERSION}-${WPOOL_DEB_RELEASE}")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libwpool-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}

This package holds the headers, the CMake package (find_package(wpool)),
the pkg-config file and the man pages (man wpool_map).")
if(WPOOL_STATIC)
  set(CPACK_COMPONENTS_ALL dev)
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libapr1-dev")
else()
  set(_wpool_runtime libwpool${PROJECT_VERSION_MAJOR})
  set(CPACK_COMPONENTS_ALL runtime dev)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${_wpool_runtime})
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}

This package holds the shared library.")
  # shlibs file and ldconfig trigger; a program built against this version
  # needs this version or a later one of the same SONAME.
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
      "${_wpool_runtime} (= ${_wpool_deb_version}), libapr1-dev")
endif()

include(CPack)
