# vcpkg overlay port for wpool. It builds the source tree it sits in
# (ports/wpool/ of wpool's repository), so the repository is its own
# registry:
#
#   vcpkg install wpool --overlay-ports=<wpool>/ports
#
# or, in a project's manifest mode, "wpool" in its vcpkg.json and
# -DVCPKG_OVERLAY_PORTS=<wpool>/ports on the CMake command line (appveyor.yml
# builds tests/consumer that way).
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
if(NOT EXISTS "${SOURCE_PATH}/include/wpool.h")
  message(FATAL_ERROR "wpool's port builds the tree it is part of: "
                      "${SOURCE_PATH} holds no include/wpool.h")
endif()

# The triplet's VCPKG_LIBRARY_LINKAGE chooses a DLL or a static library
# (vcpkg_cmake_configure passes BUILD_SHARED_LIBS). Only the library is
# built: tests, examples and man pages are wpool's own business.
vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DWPOOL_BUILD_TESTS=OFF
    -DWPOOL_BUILD_EXAMPLES=OFF
    -DWPOOL_BUILD_DOCS=OFF
    -DWPOOL_INSTALL_MAN=OFF
)
vcpkg_cmake_install()
vcpkg_copy_pdbs()
# lib/cmake/wpool to share/wpool, where vcpkg's find_package looks.
vcpkg_cmake_config_fixup(CONFIG_PATH "lib/cmake/wpool")
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/debug/include"
                    "${CURRENT_PACKAGES_DIR}/debug/share")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage"
     DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
# wpool's repository has no license file yet; the copyright file says so
# rather than claim one.
set(_wpool_notice "${CURRENT_BUILDTREES_DIR}/wpool-notice.txt")
file(WRITE "${_wpool_notice}"
     "wpool ${VERSION}: its source tree carries no license file yet.\n")
vcpkg_install_copyright(FILE_LIST "${_wpool_notice}")
