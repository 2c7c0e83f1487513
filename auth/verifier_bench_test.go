package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/auth"
)

// benchVerifier returns a verifier that has verified key, so every Verify
// below is a cache hit.
func benchVerifier(b *testing.B) (*auth.KeyVerifier, []byte) {
	b.Helper()
	pool, _ := countedDB(b)
	org := createOrg(b, pool, "Bench Kitchen")
	key := []byte(createKey(b, pool, org.ID).Key)
	v := newVerifier(b, pool, auth.KeyVerifierOptions{TTL: time.Hour})
	if _, err := v.Verify(context.Background(), key); err != nil {
		b.Fatal(err)
	}
	return v, key
}

func BenchmarkVerifyCached(b *testing.B) {
	v, key := benchVerifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		if _, err := v.Verify(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	v, key := benchVerifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, key); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyMalformed(b *testing.B) {
	v, _ := benchVerifier(b)
	ctx := context.Background()
	key := []byte("ftk_not-a-key")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, key); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkParseAuthorization(b *testing.B) {
	h := []byte("Bearer ftk_abcdefgh_abcdefghijklmnopqrstuvwxyz234567")
	b.ReportAllocs()
	b.SetBytes(int64(len(h)))
	for b.Loop() {
		if _, ok := auth.ParseAuthorization(h, nil); !ok {
			b.Fatal("not parsed")
		}
	}
}
