package config

import (
	"fmt"
	"os"
)

// ShardPlaceholder in gitlab.token_file stands for the shard's index
// (--shard), so that the shards of a sharded exporter, which share one
// configuration, each read their own token: separate GitLab users have
// separate rate limits. With the tokens in one Kubernetes Secret mounted
// as files, token_file: /var/run/secrets/gitlab/shard-{shard}.
const ShardPlaceholder = "{shard}"

// LoadShard is Load for shard index of a sharded exporter: ShardPlaceholder
// in gitlab.token_file becomes index (Load makes it 0).
func LoadShard(path string, getenv func(string) string, index int) (*Config, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseShard(data, path, getenv, index)
}

// ParseShard is Parse for shard index (see LoadShard).
func ParseShard(data []byte, filename string, getenv func(string) string, index int) (*Config, []string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if filename == "" {
		filename = "<config>"
	}
	cfg := defaultConfig()
	d := &decoder{file: filename, shard: index, byKey: map[string]*place{}}
	if !d.decode(data, cfg) {
		return nil, d.warningLines(), d.err()
	}
	d.applyDefaults(cfg)
	d.validate(cfg)
	d.checkFiles(cfg, filename)
	token := d.resolveToken(cfg, getenv)
	secret := d.resolveWebhookSecret(cfg, getenv, filename)
	if err := d.err(); err != nil {
		return nil, d.warningLines(), err
	}
	cfg.token, cfg.webhookSecret = &token, &secret
	return cfg, d.warningLines(), nil
}
