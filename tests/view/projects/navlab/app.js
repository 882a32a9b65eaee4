App({
  onLaunch() {
    console.info('launched', { v: 1 })
  },
  onError(message) {
    console.log('App.onError: ' + String(message).split('\n')[0])
  }
})
