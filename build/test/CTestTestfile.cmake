# CMake generated Testfile for 
# Source directory: /work/main/test
# Build directory: /work/main/build/test
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[lit]=] "/usr/lib/llvm-22/bin/lit" "-sv" "/work/main/build/test")
set_tests_properties([=[lit]=] PROPERTIES  _BACKTRACE_TRIPLES "/work/main/test/CMakeLists.txt;13;add_test;/work/main/test/CMakeLists.txt;0;")
