# Two set-up commands for a fresh Debian machine (see README.md): `make run` and `make test`.
# Both install the system packages they need when missing (apt-get as root, or through sudo).
SYSTEM_PACKAGES := libode-dev libeigen3-dev libopenblas-dev pkg-config

.PHONY: deps run test build bench clean

deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing system packages:$$missing — run as root: apt-get install$$missing" >&2; exit 1; fi; \
	fi

# the main job on its built-in default: a quadruped-walk rollout, recorded to out/quadruped-walk.csv
run: deps
	mkdir -p out
	swift run -c release mbc simulate --env quadruped-walk --policy random --steps 1000 --seed 1 --record out/quadruped-walk.csv

test: deps
	swift test

build: deps
	swift build -c release

bench: deps
	swift run -c release mbc bench sim

clean:
	rm -rf .build out
