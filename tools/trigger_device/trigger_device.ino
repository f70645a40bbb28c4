// rtdecode reference trigger device (Arduino Uno/Nano/Leonardo/Zero; any board with a serial port).
//
// Drives a TTL line (LIGHT_PIN, active high) to an LED/laser driver, on the line protocol of
// rtdecode/trigger/_device_protocol.py (ASCII lines ending in '\n'):
//   P<ms>  light on for <ms> milliseconds (1..10000), then off
//   O      light off now (the safe state)
//   H      heartbeat: the host is alive (sent every 100 ms)
//   V      version query; answered with "rtdecode-trigger 1"
// Anything else is answered with "E <what>" and changes nothing.
//
// Safety lives here, not only on the host: the light is off at power-up, a pulse ends on this
// board's own clock, and if no line arrives for HEARTBEAT_TIMEOUT_MS (the host was killed with
// kill -9, hung, or the cable was pulled) the light goes off and stays off until the next
// pulse command.

const uint8_t LIGHT_PIN = 9;
const unsigned long HEARTBEAT_TIMEOUT_MS = 500;
const unsigned long MAX_PULSE_MS = 10000;
const size_t LINE_MAX = 16;

char line[LINE_MAX];
size_t length = 0;
bool overflow = false;
bool lightOn = false;
unsigned long pulseStart = 0;
unsigned long pulseLength = 0;
unsigned long lastLine = 0;

void light(bool on) {
  digitalWrite(LIGHT_PIN, on ? HIGH : LOW);
  lightOn = on;
}

void handle(const char *text) {
  if (strcmp(text, "H") == 0) {
    return;
  }
  if (strcmp(text, "O") == 0) {
    light(false);
    return;
  }
  if (strcmp(text, "V") == 0) {
    Serial.print("rtdecode-trigger 1\n");
    return;
  }
  if (text[0] == 'P' && text[1] != '\0') {
    unsigned long ms = 0;
    for (const char *c = text + 1; *c; ++c) {
      if (*c < '0' || *c > '9' || ms > MAX_PULSE_MS) {
        ms = 0;
        break;
      }
      ms = ms * 10 + (*c - '0');
    }
    if (ms >= 1 && ms <= MAX_PULSE_MS) {
      pulseStart = millis();
      pulseLength = ms;
      light(true);
      return;
    }
  }
  Serial.print("E ");
  Serial.print(text);
  Serial.print("\n");
}

void setup() {
  pinMode(LIGHT_PIN, OUTPUT);
  light(false);  // safe state from power-up
  Serial.begin(115200);
}

void loop() {
  while (Serial.available() > 0) {
    char c = (char)Serial.read();
    if (c == '\n') {
      line[length] = '\0';
      lastLine = millis();
      if (!overflow) {
        handle(line);
      } else {
        Serial.print("E line too long\n");
      }
      length = 0;
      overflow = false;
    } else if (length < LINE_MAX - 1) {
      line[length++] = c;
    } else {
      overflow = true;
    }
  }
  unsigned long now = millis();  // unsigned differences stay right across millis() wrap-around
  if (lightOn && now - pulseStart >= pulseLength) {
    light(false);
  }
  if (lightOn && now - lastLine > HEARTBEAT_TIMEOUT_MS) {
    light(false);  // the host went quiet: never leave the light on
  }
}
