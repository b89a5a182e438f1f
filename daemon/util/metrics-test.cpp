#include "metrics.h"

#include <catch2/catch.hpp>

namespace tenantd {

namespace {
bool has(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}
}  // namespace

TEST_CASE("An owned histogram puts each value in the first bucket that holds it") {
  OwnedHistogram<3> h({1, 2, 4});
  for (double v : {0.5, 1.0, 1.5, 4.0, 9.0}) h.observe(v);
  auto s = h.read();
  CHECK(s.counts == std::array<uint64_t, 4>{2, 1, 1, 1});
  CHECK(s.sum == 16.0);
}

TEST_CASE("Metrics renders owned counters, histograms and gauges through prometheus-cpp") {
  Metrics metrics;
  metrics.counter("tenantd_things_total", "Things", {{"kind", "a"}}).add(3);
  // The same (name, labels) is the same counter.
  metrics.counter("tenantd_things_total", "Things", {{"kind", "a"}}).add();
  metrics.latency("tenantd_wait_seconds", "Waits", {{"kind", "a"}}).observe(0.003);
  double level = 7;
  auto gauge = metrics.gauge("tenantd_level", "Level", {}, [&level]() { return level; });
  metrics.store().commits.add(2);

  std::string text = metrics.render();
  CHECK(has(text, "# TYPE tenantd_things_total counter"));
  CHECK(has(text, R"(tenantd_things_total{kind="a"} 4)"));
  CHECK(has(text, R"(tenantd_wait_seconds_bucket{kind="a",le="0.0025"} 0)"));
  CHECK(has(text, R"(tenantd_wait_seconds_bucket{kind="a",le="0.005"} 1)"));
  CHECK(has(text, R"(tenantd_wait_seconds_bucket{kind="a",le="+Inf"} 1)"));
  CHECK(has(text, R"(tenantd_wait_seconds_count{kind="a"} 1)"));
  CHECK(has(text, "tenantd_level 7"));
  CHECK(has(text, "tenantd_store_commits_total 2"));
  CHECK(text.find("process_open_fds ") != std::string::npos);

  // A destroyed registration leaves the exposition; a family keeps one type.
  gauge.reset();
  CHECK(metrics.render().find("tenantd_level") == std::string::npos);
  CHECK_THROWS(metrics.latency("tenantd_things_total", "Things", {}));
}

}  // namespace tenantd
