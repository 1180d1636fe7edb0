// Shared by the fuzz targets: a violated property is a crash, so libFuzzer keeps the
// input as a reproducer; and a reader that splits one input into several fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fuzz {

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Takes the input apart front to back: a byte, or a field up to the next separator.
class reader {
 public:
  reader(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Up to (not including) the next `sep`, which is consumed; all that is left if none.
  std::string_view field(char sep = '\n') {
    auto at = rest_.find(sep);
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == rest_.npos ? rest_.size() : at + 1);
    return out;
  }
  std::string_view rest() {
    std::string_view out = rest_;
    rest_ = {};
    return out;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

}  // namespace fuzz
