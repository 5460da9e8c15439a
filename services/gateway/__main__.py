from libs.runner import main

if __name__ == "__main__":
    main("gateway", "services.gateway.app:build")
