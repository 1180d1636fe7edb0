// The per-thread memory of verified tokens: exact matches only, one owner at a time.
#include "auth/token_memo.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace cartgate {
namespace {

token_claims claims_for(std::int64_t user_id, std::string pat) {
  token_claims c;
  c.user_id = user_id;
  c.username = "user" + std::to_string(user_id);
  c.pat = std::move(pat);
  c.exp = 4102444800;  // 2100-01-01: past 2038, kept as 64-bit
  c.not_before = 1700000000;
  return c;
}

// Any opaque strings do: the memo never parses what it remembers.
const std::string token_a = "aaaa.bbbb.cccc";
const std::string token_b = "aaaa.bbbb.cccd";  // differs in the last byte only

TEST(TokenMemo, RememberedTokenIsFoundWithItsClaims) {
  int owner = 0;
  auto& memo = token_memo::for_this_thread(&owner);
  memo.remember(token_a, claims_for(7, "pat_000000000000000000000007"));
  const token_claims* c = memo.find(token_a);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->user_id, 7);
  EXPECT_EQ(c->pat, "pat_000000000000000000000007");
  EXPECT_EQ(c->exp, 4102444800);
}

TEST(TokenMemo, TokenDifferingInOneByteIsNotFound) {
  int owner = 0;
  auto& memo = token_memo::for_this_thread(&owner);
  memo.remember(token_a, claims_for(7, "pat_a"));
  EXPECT_EQ(memo.find(token_b), nullptr);
  EXPECT_EQ(memo.find(token_a.substr(0, token_a.size() - 1)), nullptr);
  EXPECT_EQ(memo.find(token_a + "c"), nullptr);
  EXPECT_EQ(memo.find(""), nullptr);
}

TEST(TokenMemo, AnotherOwnerOnTheSameThreadStartsEmpty) {
  int first = 0, second = 0;
  token_memo::for_this_thread(&first).remember(token_a, claims_for(1, "pat_a"));
  EXPECT_NE(token_memo::for_this_thread(&first).find(token_a), nullptr);
  EXPECT_EQ(token_memo::for_this_thread(&second).find(token_a), nullptr);
  // And back: the first owner's memory went with the switch.
  EXPECT_EQ(token_memo::for_this_thread(&first).find(token_a), nullptr);
}

TEST(TokenMemo, EachThreadHasItsOwnMemory) {
  int owner = 0;
  token_memo::for_this_thread(&owner).remember(token_a, claims_for(1, "pat_a"));
  bool seen_elsewhere = true;
  std::thread([&] {
    seen_elsewhere = token_memo::for_this_thread(&owner).find(token_a) != nullptr;
  }).join();
  EXPECT_FALSE(seen_elsewhere);
  EXPECT_NE(token_memo::for_this_thread(&owner).find(token_a), nullptr);
}

TEST(TokenMemo, ManyTokensStayBoundedAndTheLatestIsFound) {
  int owner = 0;
  auto& memo = token_memo::for_this_thread(&owner);
  std::string last;
  for (int i = 0; i < 3 * static_cast<int>(token_memo::slot_count); ++i) {
    last = "token-" + std::to_string(i);
    memo.remember(last, claims_for(i, "pat_" + std::to_string(i)));
  }
  const token_claims* c = memo.find(last);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->user_id, 3 * static_cast<int>(token_memo::slot_count) - 1);
  // Whatever is found is the token's own entry, never a neighbour's.
  int found = 0;
  for (int i = 0; i < 3 * static_cast<int>(token_memo::slot_count); ++i) {
    if (const token_claims* e = memo.find("token-" + std::to_string(i))) {
      EXPECT_EQ(e->user_id, i);
      ++found;
    }
  }
  EXPECT_LE(found, static_cast<int>(token_memo::slot_count));
  EXPECT_GT(found, 0);
}

// A thread that sees a handful of tokens holds a handful of slots (memory of every
// thread of every worker); one that sees many grows to the bound and still finds them.
TEST(TokenMemo, FewTokensHoldFewSlotsAndManyGrowToTheBound) {
  int owner = 0;
  auto& memo = token_memo::for_this_thread(&owner);
  memo.clear();
  for (int i = 0; i < 3; ++i) memo.remember("few-" + std::to_string(i), claims_for(i, "pat_few"));
  EXPECT_EQ(memo.slots_allocated(), token_memo::first_slot_count);
  for (int i = 0; i < 3; ++i) EXPECT_NE(memo.find("few-" + std::to_string(i)), nullptr);
  for (int i = 0; i < 4 * static_cast<int>(token_memo::slot_count); ++i) {
    memo.remember("many-" + std::to_string(i), claims_for(i, "pat_many"));
  }
  EXPECT_EQ(memo.slots_allocated(), token_memo::slot_count);
  int found = 0;
  for (int i = 3 * static_cast<int>(token_memo::slot_count); i < 4 * static_cast<int>(token_memo::slot_count); ++i) {
    if (memo.find("many-" + std::to_string(i))) ++found;
  }
  EXPECT_GT(found, static_cast<int>(token_memo::slot_count) / 2);
}

TEST(TokenMemo, ClearForgetsEverything) {
  int owner = 0;
  auto& memo = token_memo::for_this_thread(&owner);
  memo.remember(token_a, claims_for(1, "pat_a"));
  memo.clear();
  EXPECT_EQ(memo.find(token_a), nullptr);
}

}  // namespace
}  // namespace cartgate
