from libs.runner import main
from services.gateway.settings import GatewaySettings

if __name__ == "__main__":
    main(GatewaySettings, "services.gateway.app:build")
