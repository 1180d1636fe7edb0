// What a login's argon2id costs on memory mapped for each hash (password::hash, as every
// login runs it) against libargon2's own malloc'd memory, side by side in one run, and
// what each leaves resident afterwards. Built as build/argon2_memory_bench.
//
//   build/argon2_memory_bench [rounds] [threads]     # defaults: 40 rounds, 2 threads
//
// `rounds` bursts of one hash per thread at the default parameters (m=19 MiB, t=2, p=1),
// alternating the two ways so both see the same machine. Prints the median and mean per
// hash of each, and VmRSS after mapped hashes alone and then after the malloc ones.
#include <argon2.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/password.h"

namespace {

using clock_type = std::chrono::steady_clock;

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

void malloc_hash(const cartgate::password::argon2_params& p) {
  unsigned char salt[16] = {1};
  char encoded[256];
  if (argon2id_hash_encoded(p.iterations, p.memory_kib, p.parallelism, "password", 8, salt, sizeof salt, 32,
                            encoded, sizeof encoded) != ARGON2_OK) {
    std::abort();
  }
}

struct series {
  std::mutex m;
  std::vector<double> ms;
  void add(double v) {
    std::lock_guard lock(m);
    ms.push_back(v);
  }
  void print(const char* name) {
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (double v : ms) sum += v;
    std::printf("%-28s n=%zu median %.1f ms mean %.1f ms\n", name, ms.size(), ms[ms.size() / 2], sum / ms.size());
  }
};

template <typename Fn>
double timed(Fn fn) {
  auto t = clock_type::now();
  fn();
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 40;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  if (rounds < 1 || threads < 1) {
    std::fprintf(stderr, "usage: argon2_memory_bench [rounds >= 1] [threads >= 1]\n");
    return 2;
  }
  const cartgate::password::argon2_params defaults;
  series mapped, malloced, warmup;
  // One hash per thread, all threads at once, the way given.
  auto burst = [&](bool use_malloc, series& into) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        if (use_malloc) into.add(timed([&] { malloc_hash(defaults); }));
        else into.add(timed([&] { (void)cartgate::password::hash("password", defaults); }));
      });
    }
    for (auto& t : pool) t.join();
  };
  const long start = resident_kib();
  for (int i = 0; i < 3; ++i) burst(false, warmup);
  const long after_mapped = resident_kib();
  for (int i = 0; i < rounds; ++i) {  // interleaved, so both see the same machine
    burst(false, mapped);
    burst(true, malloced);
  }
  const long after_malloc = resident_kib();
  std::printf("%d threads, %d bursts each way, m=%u KiB t=%u p=%u\n", threads, rounds, defaults.memory_kib,
              defaults.iterations, defaults.parallelism);
  mapped.print("mapped per hash (cartgate)");
  malloced.print("malloc (libargon2 default)");
  std::printf("VmRSS: start %ld KiB; after mapped hashes %ld KiB; after malloc hashes %ld KiB\n", start,
              after_mapped, after_malloc);
  return 0;
}
