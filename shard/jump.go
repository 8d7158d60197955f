package shard

// Jump is Lamping and Veach's Jump Consistent Hash ("A Fast, Minimal
// Memory, Consistent Hash Algorithm", 2014): the bucket in [0, buckets)
// for key. When buckets grows from n to n+1, only about 1/(n+1) of the keys
// move, all of them to the new bucket. buckets below 1 count as 1.
func Jump(key uint64, buckets int) int {
	b, j := int64(-1), int64(0)
	for j < int64(buckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(max(b, 0))
}
