#include "senderwatch/locate.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testutil/testutil.h"

namespace senderwatch {
namespace {

using testing::TempDir;

void Write(const std::string& path, std::string_view text) { std::ofstream(path) << text; }

TEST(LocatePolicy, OnlyTheDefaultFileMayBeMissing) {
  const PolicyLocation none = LocatePolicy("");
  EXPECT_EQ(none.path, kDefaultConfigPath);
  EXPECT_TRUE(none.missing_means_defaults);
  // The snippets pass config=SENDERWATCH_CONFIG, the default path by name.
  EXPECT_TRUE(LocatePolicy(kDefaultConfigPath).missing_means_defaults);
  const PolicyLocation other = LocatePolicy("/etc/exim4/other.toml");
  EXPECT_EQ(other.path, "/etc/exim4/other.toml");
  EXPECT_FALSE(other.missing_means_defaults);
}

TEST(LoadLocatedPolicy, MissingFileGivesDefaultsOnlyWhereAllowed) {
  TempDir dir;
  const std::string missing = dir.Join("missing.toml");
  auto defaults = LoadLocatedPolicy({missing, true}, DefaultFileTrust());
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->rules.size(), DefaultPolicy().rules.size());
  EXPECT_FALSE(LoadLocatedPolicy({missing, false}, DefaultFileTrust()));
}

TEST(LoadLocatedPolicy, AMissingFileThePolicyNamesStaysAnError) {
  TempDir dir;
  const std::string path = dir.Join("senderwatch.toml");
  Write(path, "[sender]\nownership = \"lookup\"\nfile = \"" + dir.Join("absent") + "\"\n");
  auto policy = LoadLocatedPolicy({path, true}, DefaultFileTrust());
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find("absent"), std::string::npos);
}

TEST(LocateStore, ExplicitPathThenPolicyThenSpool) {
  Policy policy = DefaultPolicy();
  int asked = 0;
  StoreHints hints;
  hints.spool_directory = [&] {
    ++asked;
    return std::string("/var/spool/exim4");
  };
  auto from_spool = LocateStore(policy, hints);
  ASSERT_TRUE(from_spool);
  EXPECT_EQ(from_spool->path, "/var/spool/exim4/db/senderwatch");
  EXPECT_EQ(asked, 1);

  policy.store.path = "/srv/sw";
  policy.store.max_size = 12345 * 4096;
  auto from_policy = LocateStore(policy, hints);
  ASSERT_TRUE(from_policy);
  EXPECT_EQ(from_policy->path, "/srv/sw");
  EXPECT_EQ(from_policy->max_size, policy.store.max_size);  // the rest of [store] comes along
  EXPECT_EQ(asked, 1);  // Exim is asked only when nothing else names the store

  hints.explicit_path = "/tmp/db";
  auto explicit_path = LocateStore(policy, hints);
  ASSERT_TRUE(explicit_path);
  EXPECT_EQ(explicit_path->path, "/tmp/db");
}

TEST(LocateStore, UnknownSpoolIsAnError) {
  StoreHints hints;
  hints.spool_directory = [] { return std::string(); };
  auto unknown = LocateStore(DefaultPolicy(), hints);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::kStoreOpen);
  EXPECT_FALSE(LocateStore(DefaultPolicy(), {}));
}

}  // namespace
}  // namespace senderwatch
