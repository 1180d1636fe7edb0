#include "infra/metrics.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace cartgate::metrics {
namespace {

constexpr std::size_t slot_count = 512;
constexpr std::size_t name_bytes = 160;

struct slot {
  std::atomic<std::uint32_t> state;  // 0 free, 1 being written, 2 ready
  std::atomic<std::int64_t> value;
  std::uint8_t kind;  // 0 counter, 1 gauge
  char name[name_bytes];
};

struct table {
  slot slots[slot_count];
};

table* shared = nullptr;

table& get() {
  if (!shared) init_shared();
  return *shared;
}

std::uint64_t hash(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Open addressing; a slot, once named, keeps its name for the life of the pool.
slot* find_or_claim(std::string_view series, std::uint8_t kind) {
  if (series.size() >= name_bytes) return nullptr;
  table& t = get();
  std::size_t start = hash(series) % slot_count;
  for (std::size_t i = 0; i < slot_count; ++i) {
    slot& s = t.slots[(start + i) % slot_count];
    std::uint32_t st = s.state.load(std::memory_order_acquire);
    if (st == 0) {
      std::uint32_t expected = 0;
      if (s.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
        std::memcpy(s.name, series.data(), series.size());
        s.name[series.size()] = '\0';
        s.kind = kind;
        s.state.store(2, std::memory_order_release);
        return &s;
      }
      st = s.state.load(std::memory_order_acquire);
    }
    while (st == 1) st = s.state.load(std::memory_order_acquire);
    if (series == s.name) return &s;
  }
  return nullptr;  // table full: the series is dropped rather than blocking a request
}

}  // namespace

void init_shared() {
  if (shared) return;
  void* p = mmap(nullptr, sizeof(table), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    static table local{};
    shared = &local;
    return;
  }
  shared = new (p) table{};
}

void add(std::string_view series, std::uint64_t n) {
  if (slot* s = find_or_claim(series, 0)) s->value.fetch_add(static_cast<std::int64_t>(n));
}

void set_gauge(std::string_view series, std::int64_t value) {
  if (slot* s = find_or_claim(series, 1)) s->value.store(value);
}

std::string render() {
  table& t = get();
  struct row {
    std::string name;
    std::int64_t value;
    std::uint8_t kind;
  };
  std::vector<row> rows;
  for (std::size_t i = 0; i < slot_count; ++i) {
    const slot& s = t.slots[i];
    if (s.state.load(std::memory_order_acquire) != 2) continue;
    rows.push_back({s.name, s.value.load(), s.kind});
  }
  // The text format wants each family's series together under one TYPE line.
  std::sort(rows.begin(), rows.end(), [](const row& a, const row& b) { return a.name < b.name; });
  std::string out;
  std::string last_family;
  for (auto& r : rows) {
    std::string family = r.name.substr(0, r.name.find('{'));
    if (family != last_family) {
      out += "# TYPE " + family + (r.kind ? " gauge\n" : " counter\n");
      last_family = family;
    }
    out += r.name + ' ' + std::to_string(r.value) + '\n';
  }
  return out;
}

}  // namespace cartgate::metrics
