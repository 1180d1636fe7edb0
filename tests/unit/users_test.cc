// Account helpers: the login response's role label and the input checks of the CLI.
#include "store/users.h"

#include <gtest/gtest.h>

namespace cartgate {
namespace {

TEST(Users, RoleLabelCapitalisesAndJoins) {
  EXPECT_EQ(users::role_label({"customer"}), "Customer");
  EXPECT_EQ(users::role_label({"customer", "vip_customer"}), "Customer, Vip Customer");
  EXPECT_EQ(users::role_label({"shop-manager"}), "Shop Manager");
  EXPECT_EQ(users::role_label({}), "");
}

TEST(Users, LoginsFollowWordPressAlphabet) {
  for (const char* ok : {"alice", "alice.smith", "a_b-c", "alice@example.com", "Jean Paul"}) {
    EXPECT_TRUE(users::valid_login(ok)) << ok;
  }
  for (const char* bad : {"", "al<ce", "al\"ce", "tab\tname", "semi;colon"}) {
    EXPECT_FALSE(users::valid_login(bad)) << bad;
  }
  EXPECT_FALSE(users::valid_login(std::string(61, 'a')));
}

TEST(Users, EmailsNeedOneAtAndADomainDot) {
  EXPECT_TRUE(users::valid_email("alice@example.com"));
  EXPECT_TRUE(users::valid_email("a.b+tag@sub.example.co.uk"));
  for (const char* bad : {"", "alice", "@example.com", "alice@", "alice@localhost", "a@b@c.com",
                          "alice smith@example.com", "<alice@example.com>"}) {
    EXPECT_FALSE(users::valid_email(bad)) << bad;
  }
}

}  // namespace
}  // namespace cartgate
