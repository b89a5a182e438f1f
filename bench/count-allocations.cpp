// Replaces global operator new/delete in the benchmark binary to count heap allocations.
#include <cstdint>
#include <cstdlib>
#include <new>

uint64_t allocations = 0;

void* operator new(size_t size) {
  ++allocations;
  if (void* p = malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) {
  return operator new(size);
}
void operator delete(void* p) noexcept {
  free(p);
}
void operator delete(void* p, size_t) noexcept {
  free(p);
}
void operator delete[](void* p) noexcept {
  free(p);
}
void operator delete[](void* p, size_t) noexcept {
  free(p);
}
