"""Physical ranges and settings of the BME680 and of the tutorial's Thing, units in the names."""

# Operating ranges from the Bosch BME680 datasheet; a value outside them is not a measurement.
TEMPERATURE_MIN_C = -40.0
TEMPERATURE_MAX_C = 85.0
PRESSURE_MIN_HPA = 300.0
PRESSURE_MAX_HPA = 1100.0
HUMIDITY_MIN_RH = 0.0
HUMIDITY_MAX_RH = 100.0

PA_PER_HPA = 100.0

# I2C: the tutorial opens bus 1 of the Pi and tries the primary address before the secondary one.
I2C_BUS_NUMBER = 1
I2C_ADDRESS_PRIMARY = 0x76
I2C_ADDRESS_SECONDARY = 0x77

# The tutorial's sensor settings (the driver's own defaults for humidity and pressure stay).
TEMPERATURE_OVERSAMPLING_X = 8
FILTER_SIZE = 3

# The wire contract with the republish Lambda.
READINGS_TOPIC = "bme680/readings"
PUBLISH_PERIOD_S = 10.0
MESSAGE_SUCCESS = "Success"
MESSAGE_FAIL = "Fail"
