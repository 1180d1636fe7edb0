// Prometheus counters shared by every worker process of a pool: a fixed table of named
// slots in one shared anonymous mapping that the master creates before forking, so
// /metrics on any worker reports the whole pool.
//
//   metrics::init_shared();                      // master, once, before fork
//   metrics::add("cartgate_requests_total{route=\"login\",status=\"200\"}");
//   std::string text = metrics::render();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cartgate::metrics {

void init_shared();  // safe to call again; without it counters are process-local
void add(std::string_view series, std::uint64_t n = 1);
void set_gauge(std::string_view series, std::int64_t value);
std::string render();

}  // namespace cartgate::metrics
