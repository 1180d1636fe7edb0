// What cartgate reads from WordPress without a database: the PHP-serialized capabilities
// array, the table prefix it may splice into SQL, and the bcrypt hash it writes back.
#include "store/wordpress.h"

#include <gtest/gtest.h>

#include "crypto/password.h"

namespace cartgate {
namespace {

TEST(WordPressCapabilities, GrantedRolesInOrder) {
  EXPECT_EQ(wordpress::roles_from_capabilities("a:1:{s:8:\"customer\";b:1;}"),
            (std::vector<std::string>{"customer"}));
  EXPECT_EQ(wordpress::roles_from_capabilities("a:2:{s:13:\"administrator\";b:1;s:12:\"vip_customer\";b:1;}"),
            (std::vector<std::string>{"administrator", "vip_customer"}));
}

TEST(WordPressCapabilities, RevokedRolesAndOddValuesAreLeftOut) {
  EXPECT_EQ(wordpress::roles_from_capabilities("a:2:{s:8:\"customer\";b:0;s:4:\"shop\";i:1;}"),
            (std::vector<std::string>{"shop"}));
  EXPECT_EQ(wordpress::roles_from_capabilities("a:1:{s:8:\"customer\";s:1:\"1\";}"),
            (std::vector<std::string>{"customer"}));
  // A key that is no role slug (WordPress allows any text) is not a role here.
  EXPECT_TRUE(wordpress::roles_from_capabilities("a:1:{s:9:\"Bad Role!\";b:1;}").empty());
  EXPECT_TRUE(wordpress::roles_from_capabilities("a:0:{}").empty());
}

TEST(WordPressCapabilities, MalformedInputGivesNoRoles) {
  for (const char* bad : {"", "x", "a:1:{", "a:1:{s:8:\"customer\";b:1;", "a:1:{s:99:\"customer\";b:1;}",
                          "a:2:{s:8:\"customer\";b:1;}", "s:8:\"customer\";", "a:x:{}", "a:1:{s:8:\"customer\"b:1;}"}) {
    EXPECT_TRUE(wordpress::roles_from_capabilities(bad).empty()) << bad;
  }
}

TEST(WordPressCapabilities, EveryTruncationOfAValidArrayIsRefused) {
  const std::string whole = "a:2:{s:8:\"customer\";b:1;s:12:\"vip_customer\";b:1;}";
  for (std::size_t n = 0; n < whole.size(); ++n) {
    EXPECT_TRUE(wordpress::roles_from_capabilities(whole.substr(0, n)).empty()) << n;
  }
}

TEST(WordPressTablePrefix, OnlyWordCharactersMaySplice) {
  EXPECT_TRUE(wordpress::valid_table_prefix("wp_"));
  EXPECT_TRUE(wordpress::valid_table_prefix("Shop2_"));
  for (const char* bad : {"", "wp-", "wp_;DROP TABLE", "wp `", "w'p", "a.b"}) {
    EXPECT_FALSE(wordpress::valid_table_prefix(bad)) << bad;
  }
}

TEST(WordPressPassword, BcryptWrittenBackVerifiesAndIsSaltedEachTime) {
  auto a = password::hash_bcrypt("correct horse battery staple");
  auto b = password::hash_bcrypt("correct horse battery staple");
  EXPECT_EQ(a.rfind("$2y$10$", 0), 0u) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(password::scheme_of(a), password::scheme::bcrypt);
  EXPECT_TRUE(password::verify("correct horse battery staple", a));
  EXPECT_FALSE(password::verify("correct horse battery stapler", a));
  EXPECT_THROW(password::hash_bcrypt(std::string("nul\0inside", 10)), std::invalid_argument);
}

}  // namespace
}  // namespace cartgate
