// The one reader of files someone else may have planted (policy files, the
// lock journal): a FIFO or device is an error, never a hang or an endless
// read; a link is refused where asked; the size is bounded.
#include "core/bounded_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "testutil/testutil.h"

namespace senderwatch::internal {
namespace {

using senderwatch::testing::TempDir;

TEST(BoundedFile, ReadsARegularFileAndItsStat) {
  TempDir dir;
  std::ofstream(dir.Join("f")) << "hello\n";
  auto file = ReadBoundedFile(dir.Join("f"), {.what = "test file"});
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->text, "hello\n");
  EXPECT_TRUE(S_ISREG(file->st.st_mode));
  EXPECT_EQ(file->st.st_size, 6);
}

TEST(BoundedFile, MissingFileHasCodeEnoent) {
  TempDir dir;
  auto file = ReadBoundedFile(dir.Join("absent"), {.what = "lock journal",
                                                   .kind = ErrorKind::kStoreIo});
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, ENOENT);
  EXPECT_EQ(file.error().kind, ErrorKind::kStoreIo);
  EXPECT_NE(file.error().message.find("cannot read lock journal " + dir.Join("absent")),
            std::string::npos)
      << file.error().message;
}

TEST(BoundedFile, FifoIsAnErrorNotAHang) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.Join("fifo").c_str(), 0600), 0);
  // No writer ever opens it: a blocking open would never return.
  ::alarm(10);
  auto file = ReadBoundedFile(dir.Join("fifo"), {.what = "policy file"});
  ::alarm(0);
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, EINVAL);
  EXPECT_NE(file.error().message.find("is not a regular file"), std::string::npos);
}

TEST(BoundedFile, DeviceIsAnErrorNotAnEndlessRead) {
  auto file = ReadBoundedFile("/dev/zero", {.what = "policy file"});
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("policy file /dev/zero is not a regular file"),
            std::string::npos);
}

TEST(BoundedFile, LargerThanTheBoundIsRefused) {
  TempDir dir;
  std::ofstream(dir.Join("big")) << std::string(4097, 'x');
  auto file = ReadBoundedFile(dir.Join("big"), {.what = "lock journal", .max_bytes = 4096});
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().code, EFBIG);
  EXPECT_NE(file.error().message.find("is larger than 4 KiB"), std::string::npos)
      << file.error().message;
  EXPECT_TRUE(ReadBoundedFile(dir.Join("big"), {.max_bytes = 4097}));
}

TEST(BoundedFile, SymlinkIsRefusedWhenNotFollowed) {
  TempDir dir;
  std::ofstream(dir.Join("target")) << "x";
  ASSERT_EQ(::symlink(dir.Join("target").c_str(), dir.Join("link").c_str()), 0);
  auto refused = ReadBoundedFile(dir.Join("link"), {.what = "lock journal",
                                                    .follow_symlinks = false});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ELOOP);
  EXPECT_NE(refused.error().message.find("symbolic link"), std::string::npos);
  auto followed = ReadBoundedFile(dir.Join("link"), {.what = "policy file"});
  ASSERT_TRUE(followed) << followed.error().message;
  EXPECT_EQ(followed->text, "x");
}

}  // namespace
}  // namespace senderwatch::internal
