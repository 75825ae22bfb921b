//===- TestUtil.h - temp directories and file helpers for the tests -*- C++ -*-=//
#ifndef MINFER_UNITTESTS_SEARCH_TESTUTIL_H
#define MINFER_UNITTESTS_SEARCH_TESTUTIL_H

#include <gtest/gtest.h>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

namespace minfer::search::test {

/// A fresh directory under the gtest temp dir, removed with its files.
class TempDir {
public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "minfer-search-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()))
      path_ = buf.data();
  }
  ~TempDir() {
    for (const std::string &f : files_)
      std::remove(f.c_str());
    if (!path_.empty())
      rmdir(path_.c_str());
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  /// A path in the directory (the file is removed with it).
  std::string file(const std::string &name) {
    files_.push_back(path_ + "/" + name);
    return files_.back();
  }
  bool ok() const { return !path_.empty(); }

private:
  std::string path_;
  std::vector<std::string> files_;
};

inline void writeBytes(const std::string &path, const std::string &bytes) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

inline std::string readText(const std::string &path) {
  std::string out;
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    out.append(buf, n);
  std::fclose(f);
  return out;
}

} // namespace minfer::search::test

#define EXPECT_CONTAINS(hay, needle)                                           \
  EXPECT_NE(std::string(hay).find(needle), std::string::npos)                  \
      << "'" << (hay) << "' lacks '" << (needle) << "'"

#endif // MINFER_UNITTESTS_SEARCH_TESTUTIL_H
