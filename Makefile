# Two set-up commands for a fresh Debian machine (see README.md): `make run` and `make test`.
# Both install the system packages they need when missing (apt-get as root, or through sudo).
SYSTEM_PACKAGES := libode-dev libeigen3-dev libopenblas-dev pkg-config

.PHONY: deps run test test-browser build bench clean

deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing system packages:$$missing — run as root: apt-get install$$missing" >&2; exit 1; fi; \
	fi

# the main job: MPC (CEM on the simulator itself) walks the quadruped for 3 s of simulated time; records
# out/quadruped-mpc.csv and writes the 3D viewer page out/quadruped-mpc.html (open it in a browser)
run: deps
	mkdir -p out
	swift run -c release mbc mpc --config configs/mpc-quadruped.yaml --episodes 1 --max-steps 150 --record out/quadruped-mpc.csv --view out/quadruped-mpc.html

test: deps
	swift test

# renders viewer pages in Debian's headless chromium and checks the screenshots (not part of `make test`)
test-browser: deps
	@command -v chromium >/dev/null || { echo "installing: chromium"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }
	swift build --product mbc
	python3 Tests/Browser/viewer_browser_test.py .build/debug/mbc out/browser-test

build: deps
	swift build -c release

bench: deps
	swift run -c release mbc bench sim

clean:
	rm -rf .build out
