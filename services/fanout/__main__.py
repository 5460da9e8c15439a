from libs.runner import main
from services.fanout.settings import FanoutSettings

if __name__ == "__main__":
    main(FanoutSettings, "services.fanout.app:build")
