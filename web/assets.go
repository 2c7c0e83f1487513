package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed assets templates
var files embed.FS

// asset is an embedded file with the hash its URL carries: an URL names
// one content, so browsers may keep it for a year.
type asset struct {
	body        []byte
	contentType string
	hash        string
}

var assets = loadAssets()

func loadAssets() map[string]asset {
	m := map[string]asset{}
	_ = fs.WalkDir(files, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		m[strings.TrimPrefix(p, "assets/")] = asset{body: b, contentType: ct, hash: hex.EncodeToString(sum[:6])}
		return nil
	})
	return m
}

// assetURL is the versioned URL of an embedded asset.
func assetURL(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("web: no asset " + name)
	}
	return "/assets/" + name + "?v=" + a.hash
}

func serveAsset(c *fiber.Ctx) error {
	a, ok := assets[c.Params("*")]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("no such asset")
	}
	if c.Query("v") == a.hash {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	c.Set(fiber.HeaderETag, `"`+a.hash+`"`)
	c.Set("X-Content-Type-Options", "nosniff")
	if string(c.Request().Header.Peek(fiber.HeaderIfNoneMatch)) == `"`+a.hash+`"` {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.contentType)
	return c.Send(a.body)
}
