package all

import _ "github.com/cdnmetrics/cdnmetrics/collectors/bunny"
