package config

import (
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// ReadAPI reads api.bind and api.token from a configuration file that may
// not be valid, for the commands that talk to a running agent (status):
// they are needed exactly when someone is fixing the file. An empty bind
// means the file does not say (or its YAML cannot be read); the caller then
// uses DefaultAPIBind. It reports no problems: validate does.
func ReadAPI(path string) (bind, token string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize))
	if err != nil {
		return "", "", fmt.Errorf("config: %w", err)
	}
	doc, perr := readYAML(data)
	if perr != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return "", "", nil
	}
	api := mapValue(resolve(doc.Content[0]), "api")
	return scalar(mapValue(api, "bind")), scalar(mapValue(api, "token")), nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
