# senderwatch_clone_library(NEW_NAME FROM_TARGET)
#
# Builds a second static library from the sources of an existing one, so a
# benchmark or fuzzer can compile the library's code with other flags (toml++
# header-only for the cold-start experiment, coverage instrumentation for the
# fuzzers) without touching the real target. The sources are read from the
# original target, so clones follow whatever src/ adds. Include directories
# and compile features are the project's; dependencies are the caller's job.
function(senderwatch_clone_library new_name from_target)
  get_target_property(sources ${from_target} SOURCES)
  get_target_property(source_dir ${from_target} SOURCE_DIR)
  set(absolute "")
  foreach(source IN LISTS sources)
    if(NOT IS_ABSOLUTE "${source}")
      set(source "${source_dir}/${source}")
    endif()
    list(APPEND absolute "${source}")
  endforeach()
  add_library(${new_name} STATIC ${absolute})
  target_include_directories(${new_name} PUBLIC ${PROJECT_SOURCE_DIR}/include
    ${PROJECT_SOURCE_DIR}/src)
  target_compile_features(${new_name} PUBLIC cxx_std_23)
endfunction()
