package sim

import _ "github.com/cdnmetrics/cdnmetrics/collectors/steering/steeringsim"
