package doctor

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/sirupsen/logrus"
)

// quietLogs silences compose-go's logrus warnings (obsolete `version`,
// YAML 1.1 booleans): doctor reports problems itself.
var quietLogs sync.Once

// ValidateComposeFile parses, interpolates (with env, the variables a run
// gives compose) and validates path against the compose specification,
// without an engine, and checks that service is defined.
func ValidateComposeFile(ctx context.Context, path string, env map[string]string, service string) error {
	quietLogs.Do(func() { logrus.SetOutput(io.Discard) })
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(path),
		ConfigFiles: []types.ConfigFile{{Filename: path}},
		Environment: env,
	}
	project, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName("dcehost-doctor", true)
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		return fmt.Errorf("compose file %s: %s", path, iostreams.OneLine(err.Error()))
	}
	if _, err := project.GetService(service); err != nil {
		names := project.ServiceNames()
		return fmt.Errorf("compose file %s: no service %q (it has: %s)", path, service, strings.Join(names, ", "))
	}
	return nil
}
