# The Debian package, built with CPack from the normal build:
#
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
#         -DSENDERWATCH_BUILD_TESTS=OFF
#   cmake --build build-deb -j
#   (cd build-deb && cpack -G DEB)       # -> build-deb/senderwatch_<version>_<arch>.deb
#
# Included from the top-level CMakeLists.txt after all targets are defined.
# Layout (docs/operations.md): plugin /usr/lib/exim4/senderwatch.so (src/exim),
# CLI /usr/bin/senderwatch and man page (src/cli), documentation under
# /usr/share/doc/senderwatch and the exim-snippets under
# /usr/share/senderwatch/exim-snippets (top level), the daily gc
# timer here. The maintainer scripts in packaging/debian create the store
# directory for the Exim user and enable the timer.
include_guard(GLOBAL)
include(GNUInstallDirs)

# Debian's per-package files: the machine-readable copyright (DEP-5) and
# the changelog, gzipped reproducibly (-n) as Debian policy wants them.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
find_program(SENDERWATCH_GZIP gzip)
if(SENDERWATCH_GZIP)
  set(_changelog_gz ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz)
  add_custom_command(OUTPUT ${_changelog_gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/packaging
    COMMAND ${SENDERWATCH_GZIP} -9nc ${PROJECT_SOURCE_DIR}/packaging/debian/changelog > ${_changelog_gz}
    DEPENDS ${PROJECT_SOURCE_DIR}/packaging/debian/changelog VERBATIM)
  add_custom_target(senderwatch_changelog ALL DEPENDS ${_changelog_gz})
  install(FILES ${_changelog_gz} DESTINATION ${CMAKE_INSTALL_DOCDIR})
endif()

# The daily `senderwatch gc` timer. systemd reads /usr/lib/systemd/system
# (and /usr/local/lib/systemd/system for a plain `cmake --install`).
install(FILES
  ${PROJECT_SOURCE_DIR}/packaging/systemd/senderwatch-gc.service
  ${PROJECT_SOURCE_DIR}/packaging/systemd/senderwatch-gc.timer
  DESTINATION lib/systemd/system)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "senderwatch")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "senderwatch")
set(CPACK_PACKAGE_CONTACT "senderwatch maintainers <postmaster@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "detect and lock compromised SMTP AUTH accounts in Exim")
# The long description, wrapped for dpkg (CPack indents the lines).
# The summary line is CPACK_PACKAGE_DESCRIPTION_SUMMARY.
string(JOIN "\n" CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "senderwatch is a dlfunc plugin for Exim and a command-line tool. The"
  "plugin counts, per authenticated account, recipients, hard bounces,"
  "client networks and failed logins, and locks an account when the policy"
  "says it is compromised: its mail is then refused or frozen until a person"
  "releases it with the senderwatch command, which also shows why an"
  "account was locked and handles the mail it left in the queue.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "mail")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
# packaging/debian/changelog's newest entry must name this version.
file(STRINGS ${PROJECT_SOURCE_DIR}/packaging/debian/changelog _changelog_top LIMIT_COUNT 1)
if(NOT _changelog_top MATCHES "^senderwatch \\(${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}\\) ")
  message(WARNING "packaging/debian/changelog starts with '${_changelog_top}', "
    "not version ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}: add an entry")
endif()

# The plugin needs ${dlfunc} and events: exim4-daemon-heavy has both, a
# locally built exim4-daemon-custom may. exipick (queue) is in exim4-base.
# Library dependencies come from dpkg-shlibdeps when it is installed
# (dpkg-dev); the fallback names bookworm's packages.
set(_senderwatch_depends "exim4-daemon-heavy (>= 4.96) | exim4-daemon-custom, exim4-base")
find_program(SENDERWATCH_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(SENDERWATCH_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  string(APPEND _senderwatch_depends
    ", liblmdb0, libhiredis0.14, libfmt9, libtomlplusplus3, zlib1g, libstdc++6 (>= 12), libgcc-s1, libc6 (>= 2.36)")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_senderwatch_depends}")
# jq for `--json` output, lmdb-utils for mdb_copy backups, redis-server for
# several hosts sharing one store (operations.md).
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "jq, lmdb-utils, redis-server | valkey-server")

set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
