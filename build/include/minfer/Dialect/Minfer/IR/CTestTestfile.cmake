# CMake generated Testfile for 
# Source directory: /work/main/include/minfer/Dialect/Minfer/IR
# Build directory: /work/main/build/include/minfer/Dialect/Minfer/IR
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
