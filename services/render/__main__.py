from libs.runner import main

if __name__ == "__main__":
    main("render", "services.render.app:build")
