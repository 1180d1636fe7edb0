// Shared by the fuzz targets: the chunk sizes a feed is split into, drawn from one
// control byte of the input so the fuzzer explores splits as well as contents.
#pragma once

#include <cstddef>
#include <cstdint>

// 1..64 bytes, either fixed or varying by a small generator, times 1024 when the top bit
// is set so record boundaries and large heads land anywhere.
class chunker {
 public:
  explicit chunker(std::uint8_t control)
      : base_(1 + (control & 63)),
        varying_((control & 0x40) != 0),
        scale_((control & 0x80) != 0 ? 1024 : 1),
        state_(control * 2654435761u + 1) {}

  std::size_t next() {
    std::size_t n = base_;
    if (varying_) {
      state_ ^= state_ << 13, state_ ^= state_ >> 17, state_ ^= state_ << 5;
      n = 1 + state_ % base_;
    }
    return n * scale_;
  }

 private:
  std::size_t base_;
  bool varying_;
  std::size_t scale_;
  std::uint32_t state_;
};
