from libs.runner import main

if __name__ == "__main__":
    main("canvas", "services.canvas.app:build")
