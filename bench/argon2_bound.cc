// The argon2 bound of a login (bench/run.sh): how long one argon2id hash takes in this
// process at the cost a configuration sets ([password] argon2_memory_kib, iterations,
// parallelism), through password::hash as every login runs it, and what that allows:
// cores / seconds per hash logins a second, if the machine did nothing but hash.
// Built as build/argon2_bound.
//
//   CARTGATE_CONFIG=/etc/cartgate/cartgate.toml build/argon2_bound [hashes]   # default 20
//
// Prints one line: `argon2_bound m=KiB t=N p=N hashes=N median_ms=… cores=N bound_per_s=…
// login_work_median_ms=… login_work_bound_per_s=…`: the median of `hashes` hashes one
// after another (one thread), so a busy moment of the machine moves it less than a mean
// would; then the same for a login's whole password work when the store holds accounts of
// every legacy scheme (verify_for_login: argon2id, bcrypt and phpass, as every login path
// then runs them), the bound a login reaches there. A store without legacy accounts runs
// argon2id alone, so its login is held to the argon2 bound itself.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "crypto/password.h"
#include "infra/config.h"

int main(int argc, char** argv) {
  const int hashes = argc > 1 ? std::atoi(argv[1]) : 20;
  if (hashes < 1) {
    std::fprintf(stderr, "usage: argon2_bound [hashes >= 1]\n");
    return 2;
  }
  try {
    const char* path = std::getenv("CARTGATE_CONFIG");
    const auto cfg = cartgate::config::load(path ? path : "");
    const cartgate::password::argon2_params params{cfg.argon2_memory_kib, cfg.argon2_iterations,
                                                   cfg.argon2_parallelism};
    cartgate::password::hash("warm-up", params);
    std::vector<double> ms;
    for (int i = 0; i < hashes; ++i) {
      const auto t = std::chrono::steady_clock::now();
      cartgate::password::hash("bench-password", params);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
    // A login's whole password work with every legacy scheme present (verify_for_login for
    // an unknown name: the argon2id, bcrypt and phpass dummies), measured the same way.
    cartgate::password::limiter slots(1);
    std::vector<double> login_ms;
    for (int i = 0; i < hashes; ++i) {
      const auto t = std::chrono::steady_clock::now();
      cartgate::password::verify_for_login("bench-password", nullptr, params,
                                                 cartgate::password::legacy_schemes::all(), slots,
                                                 std::chrono::seconds(10));
      login_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    }
    std::sort(ms.begin(), ms.end());
    std::sort(login_ms.begin(), login_ms.end());
    const double median = ms[ms.size() / 2];
    const double login_median = login_ms[login_ms.size() / 2];
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::printf(
        "argon2_bound m=%u t=%u p=%u hashes=%d median_ms=%.2f cores=%u bound_per_s=%.1f "
        "login_work_median_ms=%.2f login_work_bound_per_s=%.1f\n",
        params.memory_kib, params.iterations, params.parallelism, hashes, median, cores, cores * 1000.0 / median,
        login_median, cores * 1000.0 / login_median);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "argon2_bound: %s\n", e.what());
    return 1;
  }
}
