#pragma once
// Redis Cluster's key slot: CRC16 (XMODEM) of the key's hash tag (the text between the first '{'
// and the next '}', when not empty), else of the whole key, modulo 16384. As the cluster
// specification defines it, so the daemon routes each tenant's keys where Redis keeps them.

#include <cstdint>
#include <string_view>

namespace tenantd::fleet {

constexpr uint16_t CLUSTER_SLOTS = 16384;

uint16_t crc16(std::string_view bytes);
uint16_t keySlot(std::string_view key);

}  // namespace tenantd::fleet
