package all

import _ "github.com/cdnmetrics/cdnmetrics/collectors/steering" // traffic steering weights
