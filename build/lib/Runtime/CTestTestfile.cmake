# CMake generated Testfile for 
# Source directory: /work/main/lib/Runtime
# Build directory: /work/main/build/lib/Runtime
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
