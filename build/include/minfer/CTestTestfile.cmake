# CMake generated Testfile for 
# Source directory: /work/main/include/minfer
# Build directory: /work/main/build/include/minfer
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("Dialect/Minfer/IR")
subdirs("Transforms")
