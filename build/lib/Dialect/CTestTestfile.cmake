# CMake generated Testfile for 
# Source directory: /work/main/lib/Dialect
# Build directory: /work/main/build/lib/Dialect
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("Minfer/IR")
