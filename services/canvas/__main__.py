from libs.runner import main
from services.canvas.settings import CanvasSettings

if __name__ == "__main__":
    main(CanvasSettings, "services.canvas.app:build")
