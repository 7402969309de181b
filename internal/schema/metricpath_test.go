package schema

// MetricPath is the path of one unified metric:
// <prefix>.<provider>.<service>.<location>.<metric>. Production code calls
// Path (Derive, Points); tests name the shape.
func MetricPath(prefix, provider, service, location, metric string) string {
	return Path(prefix, provider, service, location, metric)
}
