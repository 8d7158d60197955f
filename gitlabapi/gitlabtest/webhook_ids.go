package gitlabtest

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
)

// What a derived UUID identifies; part of its hash so kinds never collide.
const (
	uuidEvent uint64 = iota + 1
	uuidWebhook
	uuidIdempotency
)

// derivedUUID returns a version-4-shaped UUID hashed from parts. GitLab's
// are random; these repeat for the same history and seed, so that two runs
// of a simulation send the same bytes.
func derivedUUID(parts ...uint64) string {
	h := fnv.New128a()
	var b [8]byte
	for _, p := range parts {
		binary.LittleEndian.PutUint64(b[:], p)
		_, _ = h.Write(b[:])
	}
	sum := h.Sum(nil)
	sum[6] = sum[6]&0x0f | 0x40
	sum[8] = sum[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], sum[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], sum[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], sum[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], sum[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], sum[10:16])
	return string(out[:])
}
