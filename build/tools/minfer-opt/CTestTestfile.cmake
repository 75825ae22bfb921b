# CMake generated Testfile for 
# Source directory: /work/main/tools/minfer-opt
# Build directory: /work/main/build/tools/minfer-opt
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
