# CMake generated Testfile for 
# Source directory: /work/main/runtime/cuda
# Build directory: /work/main/build/runtime/cuda
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
