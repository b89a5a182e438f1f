#include "key-slot.h"

#include <catch2/catch.hpp>

namespace tenantd::fleet {

TEST_CASE("CRC16 is the cluster specification's") {
  CHECK(crc16("123456789") == 0x31C3);  // The specification's check value.
  CHECK(crc16("") == 0);
}

TEST_CASE("A key's slot is its hash tag's when it has one") {
  // Slots as `CLUSTER KEYSLOT` answers them (redis-server 7.0).
  CHECK(keySlot("foo") == 12182);
  CHECK(keySlot("{user1000}.following") == keySlot("{user1000}.followers"));
  CHECK(keySlot("{user1000}.following") == keySlot("user1000"));
  CHECK(keySlot("foo{}{bar}") == crc16("foo{}{bar}") % CLUSTER_SLOTS);  // Empty tag: whole key.
  CHECK(keySlot("foo{{bar}}zap") == crc16("{bar") % CLUSTER_SLOTS);
  CHECK(keySlot("tenantd:{tenant-123}:day:tenant:api:calls:0:") == keySlot("tenant-123"));
}

}  // namespace tenantd::fleet
